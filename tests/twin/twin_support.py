"""Shared by the twin's scenario tests."""

CLIENT_ID = "twin-client"  # the client the scenarios seed into the client-keys secret
