from pamfn.cli import main

raise SystemExit(main())
