"""Publish AlmaLinux OS images to Azure Compute Galleries.

The core library: no Azure Functions import anywhere below this package.
"""

__version__ = "0.1.0"
