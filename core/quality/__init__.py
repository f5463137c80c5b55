"""Measures of a render's quality that the product itself reports (batch QC) and the evaluation shares."""
