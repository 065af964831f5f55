from dsr_ops.cli import main

main()
