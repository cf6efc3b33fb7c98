"""Tests of the open-data catalogue (catalog/)."""
