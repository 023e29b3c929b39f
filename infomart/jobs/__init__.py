"""The bodies of the six Genesys jobs: `run(ctx: JobContext) -> None` each."""
