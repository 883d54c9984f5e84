"""The Studio\x27s pages, a module per part of the product."""
