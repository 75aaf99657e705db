from pynchy_tui.cli import main

raise SystemExit(main())
