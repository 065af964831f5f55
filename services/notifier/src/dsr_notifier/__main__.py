from dsr_notifier.main import main

main()
