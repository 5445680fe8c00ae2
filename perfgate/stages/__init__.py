"""The seven stages; each reads artifacts, calls the modules, writes its artifact and result."""
