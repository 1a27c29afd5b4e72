"""axolotl prompt strategies for userlm-data shards (written next to axolotl.yaml by `userlm-data train`)."""
