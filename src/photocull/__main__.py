from photocull.cli.app import main

main()
