"""The in-app guide: docs/guide rendered offline, and the help link of each page."""
