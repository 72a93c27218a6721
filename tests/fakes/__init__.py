"""Tests of the shared fakes."""
