from cmectl.cli.main import main

main()
