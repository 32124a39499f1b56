"""Drug knowledge base: YAML data files and the typed schema that loads them."""
