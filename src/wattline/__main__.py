from wattline.cli import main

main()
