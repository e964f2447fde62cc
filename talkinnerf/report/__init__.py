"""Tables (pandas: CSV + Markdown) and summary figures from evaluation outputs."""
