from efacture.cli.main import main

main()
