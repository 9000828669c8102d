from gallery_publisher.cli import main

raise SystemExit(main())
