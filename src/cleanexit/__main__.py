from cleanexit.cli import main

main()
