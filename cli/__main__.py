from coopetition.main import main

raise SystemExit(main())
