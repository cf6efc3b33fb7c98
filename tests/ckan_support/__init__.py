"""Support code for the tests against a real CKAN (tests/ckanserver.py): the Solr stand-in and the
script that creates CKAN's sysadmin and API token."""
