"""The outbound feed: CloudEvents pages, Server-Sent Events and the NATS relay."""
