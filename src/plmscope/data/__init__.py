"""Protein data: parsers for ProteinNet, TAPE LMDB, PDB/mmCIF and FASTA into one protein table."""
