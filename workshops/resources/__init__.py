"""The catalogue of resources shown to families (ENEJ and other usual services)."""
