"""Small strawberry federation subgraphs the router tests run in-process and over HTTP."""
