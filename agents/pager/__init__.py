"""Paging: deliver alert transitions to on-call staff."""
