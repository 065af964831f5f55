from dsr_hospital_gateway.main import main

main()
