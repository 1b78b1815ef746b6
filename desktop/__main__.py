from desktop.launch import main

raise SystemExit(main())
