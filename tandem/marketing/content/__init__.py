"""Content library: assets with URLs and tracked links, and their engagement as touchpoints."""
