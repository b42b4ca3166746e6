from wattline.cli.main import main

main()
