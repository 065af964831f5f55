from dsr_referral.main import main

main()
