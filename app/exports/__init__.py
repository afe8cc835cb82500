"""Getting data out: CSV/XLSX/GeoJSON/HXL writers and the OData feed."""
