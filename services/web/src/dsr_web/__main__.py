from dsr_web.main import main

main()
