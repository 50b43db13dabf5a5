"""Durability on the laptop: backups (local, exported, restored), start-up checks, banners."""
