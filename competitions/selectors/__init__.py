"""Reads, as keyword-only functions named <entity>_<action>."""
