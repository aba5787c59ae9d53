"""PolicyBot's dialogue core, channels, settings and the ``policybot`` command."""
