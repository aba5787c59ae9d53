"""Reading policy documents, tokenising them, and ranking their clauses with BM25."""
