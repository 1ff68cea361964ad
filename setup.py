"Package build for nbdev 2: every field comes from settings.ini."
from configparser import ConfigParser
import setuptools, shlex

config = ConfigParser(delimiters=['='])
config.read('settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

licenses = {'apache2': ('Apache Software License 2.0', 'OSI Approved :: Apache Software License')}
statuses = ['Pre-Alpha', 'Alpha', 'Beta', 'Mature', 'Production']
requirements = shlex.split(cfg.get('requirements', ''))
dev_requirements = shlex.split(cfg.get('dev_requirements', ''))
lic = licenses[cfg['license']]

setuptools.setup(
    name=cfg['lib_name'], version=cfg['version'], description=cfg['description'],
    keywords=cfg['keywords'].split(), project_urls={'Documentation': cfg['doc_host'] + cfg['doc_baseurl']},
    license=lic[0], author=cfg['author'], author_email=cfg['author_email'], url=cfg['git_url'],
    classifiers=[f"Development Status :: {cfg['status']} - {statuses[int(cfg['status']) - 1]}",
                 f"Intended Audience :: {cfg['audience']}", f"License :: {lic[1]}",
                 f"Natural Language :: {cfg['language']}", f"Programming Language :: Python :: 3"],
    packages=setuptools.find_packages(include=['cube_nb', 'cube_nb.*']),
    include_package_data=True, package_data={'cube_nb': ['data/*']},
    install_requires=requirements, extras_require={'dev': dev_requirements},
    python_requires='>=' + cfg['min_python'],
    long_description=open('README.md', encoding='utf-8').read() if __import__('os').path.exists('README.md') else '',
    long_description_content_type='text/markdown', zip_safe=False,
    entry_points={'console_scripts': cfg.get('console_scripts', '').split(),
                  'nbdev': [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"]},
)
