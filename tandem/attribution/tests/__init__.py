"""Tests of the attribution engine, its file CLI and its agreement with channelattribution."""
