from chatdev.cli import main

main()
