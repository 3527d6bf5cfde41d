"""Attachments of an aggregate (a claim, an authorization): policy, streaming upload, GridFS store."""
