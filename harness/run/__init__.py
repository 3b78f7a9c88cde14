"""One run: a validated profile, a cluster, Locust, the nemesis, and the history they write."""
