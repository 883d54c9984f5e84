"""Executing runs and rescores: worker processes, dispatch of items, run locks and the standby worker."""
