from dsr_identity.main import main

main()
