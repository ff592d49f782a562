"""Roster: a self-hosted audience and contact service speaking three email-platform APIs."""

__version__ = "0.1.0"
