from dsr_scheduler.main import main

main()
