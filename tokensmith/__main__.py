from tokensmith.cli import main

raise SystemExit(main())
