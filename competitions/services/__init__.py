"""Writes, as keyword-only functions named <entity>_<action>. Views and tasks stay thin."""
