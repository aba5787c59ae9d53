"""Chinese text utilities at the bottom of the house: normalising (simplified, half-width),
Chinese numerals and the numbering ladder of policy documents, display width.

Imported by every other package; imports nothing of the project.
"""
