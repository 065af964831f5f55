from dsr_rating.main import main

main()
