"""koodispatch: exactly-once bulk dispatch of KooMessage smart messages."""
