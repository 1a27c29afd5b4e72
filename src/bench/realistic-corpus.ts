import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Db, sqlString, toNumber } from '../core/db.js';
import { uniform, uniformLong } from '../core/seeded-random.js';

// A seeded corpus in WildChat-1M's Parquet schema whose text is as hard as real logs: the
// statistics of the corpus measured in issue 14 (turns, lengths, pastes and code, 19
// languages with Chinese/Japanese/Thai unspaced, Zipf vocabularies, heavy-tailed users over
// 60 countries, re-asked and templated prompts). Written shard by shard (NDJSON for one
// shard, then DuckDB converts it), so memory does not grow with N. Bench figures on it mean
// something; figures on the old synthetic corpus (0.3 GB of text per million) did not.

/** Bumped whenever the generated text changes, so a cached corpus is rebuilt. */
// 2: drawn from xoshiro128** (mulberry32 wrapped around after ~1.7M conversations).
export const REALISTIC_CORPUS_VERSION = 2;
/** WildChat-1M holds ~60k conversations per shard (837,989 in 14). */
const ROWS_PER_SHARD = 60_000;
const COMPLETE_FILE = 'GENERATED';

interface LangSpec {
  name: string;
  share: number;
  script: 'latin' | 'cyrillic' | 'arabic' | 'hangul' | 'han' | 'japanese' | 'thai';
  /** Extra letters or syllables the language's words use (diacritics, digraphs). */
  extra?: string[];
  /** The most frequent words, at the top of the Zipf ranks. */
  common?: string;
  acceptLanguage: string;
  countries: [string, number][];
}

// Shares: 67% English, 12% Chinese, 9% Russian, 12% over 16 more (issue 14). Countries are
// where a language's users are; a user keeps one country.
const LANGS: LangSpec[] = [
  {
    name: 'English', share: 0.67, script: 'latin', acceptLanguage: 'en-US,en;q=0.9',
    common: 'the to a and of i you in is for it that me with this be on can what write how my are as please an not or do about your have from if story make code help use will which one at all by so like give more',
    countries: [['United States', 30], ['United Kingdom', 6], ['India', 6], ['Canada', 4], ['Australia', 3], ['Philippines', 3], ['Singapore', 1], ['Nigeria', 1], ['Pakistan', 1], ['Bangladesh', 1], ['Malaysia', 1], ['South Africa', 1], ['Kenya', 1], ['New Zealand', 1], ['Ireland', 1], ['Egypt', 1], ['Morocco', 1], ['Algeria', 1], ['Sri Lanka', 1], ['Nepal', 1]],
  },
  {
    name: 'Chinese', share: 0.12, script: 'han', acceptLanguage: 'zh-CN,zh;q=0.9',
    common: '的 是 我 你 了 一 个 在 不 有 这 人 和 中 们 请 写 帮 吗 什么 如何 可以 一下 问题 使用 代码 文章 一个 我们 进行',
    countries: [['China', 20], ['Hong Kong', 3], ['Taiwan', 2]],
  },
  {
    name: 'Russian', share: 0.09, script: 'cyrillic', acceptLanguage: 'ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7',
    common: 'и в не на я что с как это по ты а к мне напиши для можно у о из за текст так но все',
    countries: [['Russia', 12], ['Kazakhstan', 2], ['Belarus', 1], ['Uzbekistan', 1], ['Kyrgyzstan', 1]],
  },
  { name: 'Spanish', share: 0.017, script: 'latin', extra: ['á', 'é', 'í', 'ó', 'ú', 'ñ', 'll', 'que'], acceptLanguage: 'es-ES,es;q=0.9', common: 'de la que el en y a los se del las un por con no una su para es', countries: [['Mexico', 3], ['Spain', 3], ['Argentina', 2], ['Colombia', 2], ['Chile', 1], ['Peru', 1], ['Venezuela', 1], ['Uruguay', 1], ['Cuba', 1]] },
  { name: 'French', share: 0.015, script: 'latin', extra: ['é', 'è', 'ê', 'ç', 'ou', 'eau', 'qu'], acceptLanguage: 'fr-FR,fr;q=0.9', common: 'de la le et les des en un une du est pour que qui dans', countries: [['France', 4], ['Belgium', 1], ['Switzerland', 1], ['Tunisia', 1]] },
  { name: 'Portuguese', share: 0.012, script: 'latin', extra: ['ã', 'õ', 'ç', 'ão', 'é', 'ê'], acceptLanguage: 'pt-BR,pt;q=0.9', common: 'de a o que e do da em um para com não uma os no se', countries: [['Brazil', 5], ['Portugal', 1]] },
  { name: 'German', share: 0.01, script: 'latin', extra: ['ä', 'ö', 'ü', 'ß', 'sch', 'ei', 'ie'], acceptLanguage: 'de-DE,de;q=0.9', common: 'der die und in den von zu das mit sich des auf für ist im', countries: [['Germany', 4], ['Austria', 1]] },
  { name: 'Arabic', share: 0.008, script: 'arabic', acceptLanguage: 'ar,en-US;q=0.9', countries: [['Saudi Arabia', 2], ['United Arab Emirates', 1], ['Iraq', 1], ['Jordan', 1]] },
  { name: 'Japanese', share: 0.008, script: 'japanese', acceptLanguage: 'ja-JP,ja;q=0.9', countries: [['Japan', 3]] },
  { name: 'Italian', share: 0.007, script: 'latin', extra: ['à', 'è', 'ì', 'ò', 'ù', 'gli', 'zz'], acceptLanguage: 'it-IT,it;q=0.9', common: 'di e il la che in per un del non è una', countries: [['Italy', 3]] },
  { name: 'Turkish', share: 0.006, script: 'latin', extra: ['ı', 'ş', 'ğ', 'ç', 'ö', 'ü'], acceptLanguage: 'tr-TR,tr;q=0.9', common: 'bir ve bu da için ile çok ne', countries: [['Turkey', 3]] },
  { name: 'Korean', share: 0.006, script: 'hangul', acceptLanguage: 'ko-KR,ko;q=0.9', countries: [['South Korea', 3]] },
  { name: 'Polish', share: 0.005, script: 'latin', extra: ['ą', 'ę', 'ł', 'ś', 'ż', 'ó', 'cz', 'sz', 'rz'], acceptLanguage: 'pl-PL,pl;q=0.9', common: 'i w nie na się z to jest że do', countries: [['Poland', 2]] },
  { name: 'Vietnamese', share: 0.005, script: 'latin', extra: ['ạ', 'ế', 'ữ', 'ơ', 'ư', 'đ', 'ộ', 'ả', 'ầ'], acceptLanguage: 'vi-VN,vi;q=0.9', common: 'của và các có là trong được cho những một', countries: [['Vietnam', 2]] },
  { name: 'Indonesian', share: 0.005, script: 'latin', acceptLanguage: 'id-ID,id;q=0.9', common: 'yang dan di ini itu dengan untuk tidak dari dalam', countries: [['Indonesia', 2]] },
  { name: 'Ukrainian', share: 0.005, script: 'cyrillic', extra: ['і', 'ї', 'є', 'ґ'], acceptLanguage: 'uk-UA,uk;q=0.9', common: 'і в на що не з до як це', countries: [['Ukraine', 2]] },
  { name: 'Persian', share: 0.004, script: 'arabic', extra: ['پ', 'چ', 'ژ', 'گ', 'ی', 'ک'], acceptLanguage: 'fa-IR,fa;q=0.9', countries: [['Iran', 2]] },
  { name: 'Dutch', share: 0.004, script: 'latin', extra: ['ij', 'oe', 'aa', 'ee', 'sch'], acceptLanguage: 'nl-NL,nl;q=0.9', common: 'de het een en van in is dat op te', countries: [['Netherlands', 2]] },
  { name: 'Thai', share: 0.003, script: 'thai', acceptLanguage: 'th-TH,th;q=0.9', countries: [['Thailand', 2]] },
];

export const REALISTIC_LANGUAGES = LANGS.map((l) => l.name);
/** WildChat labels short user messages by a detector that often misfires on them. */
const MISLABELS = ['Zulu', 'Somali', 'Tswana', 'Shona', 'Nolang', 'Latin', 'Tagalog', 'Ganda', 'Estonian', 'Danish', 'Hungarian', 'Irish', 'Welsh', 'Sotho', 'Yoruba'];
const STATES: Record<string, string[]> = {
  'United States': ['California', 'New York', 'Texas', 'Florida', 'New Jersey', 'Arizona', 'Illinois', 'Washington'],
  China: ['Beijing', 'Shanghai', 'Guangdong', 'Zhejiang', 'Jiangsu'],
  Russia: ['Moscow', 'St.-Petersburg', 'Novosibirsk Oblast', 'Tatarstan Republic'],
  India: ['Maharashtra', 'Karnataka', 'Delhi', 'Tamil Nadu'],
  'United Kingdom': ['England', 'Scotland', 'Wales'],
  Germany: ['Bavaria', 'Berlin', 'Brandenburg', 'Hesse'],
  Mexico: ['Mexico City', 'Nuevo León', 'Jalisco'],
  Brazil: ['São Paulo', 'Rio de Janeiro', 'Minas Gerais'],
};
const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/112.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/111.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 16_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.4 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 12; SM-A135F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/112.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:109.0) Gecko/20100101 Firefox/112.0',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/113.0.0.0 Safari/537.36',
];
const GREETINGS: Record<string, string[]> = {
  English: ['hi', 'hello', 'Hi', 'hey', 'test', 'Hello!', 'who are you', 'what can you do'],
  Chinese: ['你好', '你是谁', '在吗', '你好！'],
  Russian: ['привет', 'Привет', 'ты кто', 'здравствуй'],
};
const CONTINUES: Record<string, string[]> = {
  English: ['continue', 'go on', 'more', 'Continue', 'rewrite it', 'shorter', 'thanks'],
  Chinese: ['继续', '谢谢', '再详细一点', '重新写'],
  Russian: ['продолжай', 'спасибо', 'ещё', 'перепиши'],
};

const CJK_PUNCT = ['，', '，', '。', '？', '：', '、'];
const LATIN_ONSETS = ['', '', 'b', 'c', 'd', 'f', 'g', 'h', 'j', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'w', 'th', 'st', 'pr', 'ch', 'tr', 'bl', 'gr'];
const LATIN_VOWELS = ['a', 'e', 'i', 'o', 'u', 'a', 'e', 'o', 'ea', 'ou', 'ai', 'y'];
const LATIN_CODAS = ['', '', '', 'n', 'r', 's', 't', 'l', 'm', 'ng', 'ck', 'nd', 'st'];
const CYR_CONS = 'бвгджзклмнпрстфхцчшщ'.split('');
const CYR_VOW = 'аеиоуыэюяь'.split('');
const ARABIC = 'ابتثجحخدذرزسشصضطظعغفقكلمنهوي'.split('');
const THAI_CONS = Array.from({ length: 46 }, (_, k) => String.fromCharCode(0x0e01 + k));
const THAI_VOW = ['ั', 'า', 'ิ', 'ี', 'ึ', 'ื', 'ุ', 'ู', 'ำ'];
const THAI_LEAD = ['เ', 'แ', 'โ', 'ไ', 'ใ'];
const THAI_TONE = ['่', '้', '๊', '๋'];
const HIRAGANA = Array.from({ length: 83 }, (_, k) => String.fromCharCode(0x3041 + k));
const KATAKANA = Array.from({ length: 86 }, (_, k) => String.fromCharCode(0x30a1 + k));

/** A Zipf(exponent) sampler over n ranks: inverse CDF with a 64k-bucket index into it. */
export function zipfSampler(n: number, exponent: number, offset = 0): (u: number) => number {
  const cdf = new Float64Array(n);
  let acc = 0;
  for (let i = 0; i < n; i++) cdf[i] = acc += Math.pow(i + 1 + offset, -exponent);
  for (let i = 0; i < n; i++) cdf[i]! /= acc;
  const B = 65536;
  const start = new Int32Array(B + 1);
  let j = 0;
  for (let b = 0; b <= B; b++) {
    while (j < n - 1 && cdf[j]! < b / B) j++;
    start[b] = j;
  }
  return (u: number) => {
    let k = start[Math.floor(u * B)]!;
    while (k < n - 1 && cdf[k]! <= u) k++;
    return k;
  };
}

/** Han characters: the frequent ones (HAN_SEED, most frequent first), then more of the block, rarer. */
function hanPool(seedChars: string): string[] {
  const seen = new Set<string>();
  for (const ch of seedChars) if (/\p{Script=Han}/u.test(ch)) seen.add(ch);
  for (let cp = 0x4e00; seen.size < 3000; cp += 7) seen.add(String.fromCharCode(cp));
  return [...seen];
}

// About 2,500 of the most frequent Chinese characters, roughly by frequency: Llama-3's vocabulary
// has single tokens for most of them, as it does for real Chinese text; uniform draws from the
// whole block would be mostly rare characters (three byte tokens each), far harder than real.
const HAN_SEED =
  '的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之年过发后作里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心她本前开但因只从想实日军者意无力它与长把机十民第公此已工使情明性知全三又关点正业外将两高间由问很最重并物手应战向头文体政美相见被利什二等产或新己制身果加西斯月话合回特代内信表化老给世位次度门任常先海通教儿原东声提立及比员解水名真论处走义各入几口认条平系气题活尔更别打女变四神总何电数安少报才结反受目太量再感建务做接必场件计管期市直德资命山金指克许统区保至队形社便空决治展马科司五基眼书非则听白却界达光放强即像难且权思王象完设式色路记南品住告类求据程北边死张该交规万取拉格望觉术领共确传师观清今切院让识候带导争运笑飞风步改收根干造言联持组每济车亲极林服快办议往元英士证近失转夫令准布始怎呢存未远叫台单影具罗字爱击流备兵连调深商算质团集百需价花党华城石级整府离况亚请技际约示复病息究线似官火断精满支视消越器容照须九增研写称企八功吗包片史委乎查轻易早曾除农找装广显吧阿李标谈吃图念六引历首医局突专费号尽另周较注语仅考落青随选列武红响虽推势参希古众构房半节土投某案黑维革划敌致陈律足态护七兴派孩验责营星够章音跟志底站严巴例防族供效续施留讲型料终答紧黄绝奇察母京段依批群项故按河米围江织害斗双境客纪采举杀攻父苏密低朝友诉止细愿千值仍男钱破网热助倒育属坐帝限船脸职速刻乐否刚威毛状率甚独球般普怕弹校苦创假久错承印晚兰试股拿脑预谁益阳若哪微尼继送急血惊伤素药适波夜省初喜卫源食险待述陆习置居劳财环排福纳欢雷警获模充负云停木游龙树疑层冷洲冲射略范竟句室异激汉村哈策演简卡罪判担州静退既衣您宗积余痛检差富灵协角占配征修皮挥胜降阶审沉坚善妈刘读啊超免压银买皇养伊怀执副乱抗犯追帮宣佛岁航优怪香著田铁控税左右份穿艺背阵草脚概恶块顿敢守酒岛托央户烈洋哥索胡款靠评版宝座释景顾弟登货互付伯慢欧换闻危忙核暗姐介坏讨丽良序升监临亮露永呼味野架域沙掉括舰鱼杂误湾吉减编楚肯测败屋跑梦散温困剑渐封救贵枪缺楼县尚毫移娘朋画班智亦耳恩短掌恐遗固席松秘谢鲁遇康虑幸均销钟诗藏赶剧票损忽巨炮旧端探湖录叶春乡附吸予礼港雨呀板庭妇归睛饭额含顺输摇招婚脱补谓督毒油疗旅泽材灭逐莫笔亡鲜词圣择寻厂睡博勒烟授诺伦岸奥唐卖俄炸载洛健堂旁宫喝借君禁阴园谋宋避抓荣姑孙逃牙束跳顶玉镇雪午练迫爷篇肉嘴馆遍凡础洞卷坦牛宁纸诸训私庄祖丝翻暴森塔默握戏隐熟骨访弱蒙歌店鬼软典欲萨伙遭盘爸扩盖弄雄稳忘亿刺拥徒姆杨齐赛趣曲刀床迎冰虚玩析窗醒妻透购替塞努休虎扬途侵刑绿兄迅套贸毕唯谷轮库迹尤竞街促延震弃甲伟麻川申缓潜闪售灯针哲络抵朱埃抱鼓植纯夏忍页杰筑折郑贝尊吴秀混臣雅振染盛怒舞圆搞狂措姓残秋培迷诚宽宇猛摆梅毁伸摩盟末乃悲拍丁赵硬麦蒋操耶阻订彩抽赞魔纷沿喊违妹浪汇币丰蓝殊献桌啦瓦莱援译夺汽烧距裁偏符勇触课敬哭懂墙袭召罚侠厅拜巧侧韩冒债曼融惯享戴童犹乘挂奖绍厚纵障讯涉彻刊丈爆乌役描洗玛患妙镜唱烦签仙彼弗症仿倾牌陷鸟轰咱菜闭奋庆撤泪茶疾缘播朗杜奶季丹狗尾仪偷奔珠虫驻孔宜艾桥淡翼恨繁寒伴叹旦愈潮粮缩罢聚径恰挑袋灰捕徐珍幕映裂泰隔启尖忠累炎暂估泛荒偿横拒瑞忆孤鼻闹羊呆厉衡胞零穷舍码赫婆魂灾洪腿胆津俗辩胸晓劲贫仁偶辑邦恢赖圈摸仰润堆碰艇稍迟辆废净凶署壁御奉旋冬矿抬蛋晨伏吹鸡倍糊秦盾杯租骑乏隆诊奴摄丧污渡旗甘耐凭扎抢绪粗肩梁幻菲皆碎宙叔岩荡综爬荷悉蒂返井壮薄悄扫敏碍殖详迪矛霍允幅撒剩凯颗骂赏液番箱贴漫酸郎腰舒眉忧浮辛恋餐吓挺励辞艘键伍峰尺昨黎辈贯侦滑券崇扰宪绕趋慈乔阅汗枝拖墨胁插箭腊粉泥氏彭拔骗凤慧媒佩愤扑龄驱惜豪掩兼跃尸肃帕驶堡届欣惠册储飘桑闲惨洁踪勃宾频仇磨递邪撞拟滚奏巡颜剂绩贡疯坡瞧截燃焦殿伪柳锁逼颇昏劝呈搜勤戒驾漂饮曹朵仔柔俩孟腐幼践籍牧凉牲佳娜浓芳稿竹腹跌逻垂遵脉貌柏狱猜怜惑陶兽帐饰贷昌叙躺钢沟寄扶铺邓寿惧询汤盗肥尝匆辉奈扣廷澳嘛董迁凝慰厌脏腾幽怨鞋丢埋泉涌辖躲晋紫艰魏吾慌祝邮吐狠鉴曰械咬邻赤挤弯椅陪割揭韦悟聪雾锋梯猫祥阔誉筹丛牵鸣沈阁穆屈旨袖猎臂蛇贺柱抛鼠瑟戈牢逊迈欺吨琴衰瓶恼燕仲诱狼池疼卢仗冠粒遥吕玄尘冯抚浅敦纠钻晶岂峡苍喷耗凌敲菌赔涂粹扁亏寂煤熊恭湿循暖糖赋抑秩帽哀宿踏烂袁侯抖夹昆肝擦猪炼恒慎搬纽纹玻渔磁铜齿跨押怖漠疲叛遣兹祭醉拳弥斜档稀捷肤疫肿豆削岗晃吞宏癌肚隶履涨耀扭坛拨沃绘伐堪仆郭牺歼墓雇廉契拼惩捉覆刷劫嫌瓜歇雕闷乳串娃缴唤赢莲霸桃妥瘦搭赴岳嘉舱俊址庞耕锐缝悔邀玲惟斥宅添挖呵讼氧浩羽斤酷掠妖祸侍乙妨贪挣汪尿莉悬唇翰仓轨枚盐览傅帅庙芬屏寺胖璃愚滴疏萧姿颤丑劣柯寸扔盯辱匹俱辨饿蜂哦腔郁溃谨糟葛苗肠忌溜鸿爵鹏鹰笼丘桂滋聊挡纲肌茨壳痕碗穴膀卓贤卧膜毅锦欠哩函茫昂薛皱夸豫胃舌剥傲拾窝睁携陵哼棉晴铃填饲渴吻扮逆脆喘罩卜炉柴愉绳胎蓄眠竭喂傻慕浑奸扇柜悦拦诞饱乾泡贼亭夕爹酬儒姻卵氛泄杆挨僧蜜吟猩遂狭肖甜霞驳裕顽於摘矮秒卿畜咽披辅勾盆疆赌塑畏吵囊嗯泊肺骤缠冈羞瞪吊贾漏斑涛悠鹿俘锡卑葬铭滩嫁催璇翅盒蛮矣潘歧赐鲍锅廊拆灌勉盲宰佐啥胀扯禧辽抹筒棋裤唉朴咐孕誓喉妄拘链驰栏逝窃艳臭纤玑棵趁匠盈翁愁瞬婴孝颈倘浙谅蔽畅赠妮莎尉冻跪闯葡後厨鸭颠遮谊圳吁仑辟瘤嫂陀框谭亨钦庸歉芝吼甫衫摊宴嘱衷娇陕矩浦讶耸裸碧摧薪淋耻胶屠鹅饥盼脖虹翠崩账萍逢赚撑翔倡绵猴枯巫昭怔渊凑溪蠢禅阐旺寓藤匪伞碑挪琼脂谎慨菩萄狮掘抄岭晕逮砍掏狄晰罕挽脾舟痴蔡剪脊弓懒叉拐喃僚捐姊骚拓歪粘柄坑陌窄湘兆崖骄刹鞭芒筋聘钩棍嚷腺弦焰耍俯厘愣厦恳饶钉寡憾摔叠惹喻谱愧煌徽溶坠煞巾滥洒堵瓷咒姨棒郡浴媚稣淮哎屁漆淫巢吩撰啸滞玫硕钓蝶膝姚茂躯吏猿寨恕渠戚辰舶颁惶狐讽笨袍嘲啡泼衔倦涵雀旬僵撕肢垄夷逸茅侨舆窑涅蒲谦杭噢弊勋刮郊凄捧浸砖鼎篮蒸饼亩肾陡爪兔殷贞荐哑炭坟眨搏咳拢舅昧擅爽咖搁禄雌哨巩绢螺裹昔轩谬谍龟媳姜瞎冤鸦蓬巷琳栽沾诈斋瞒彪厄咨纺罐桶壤糕颂膨谐垒咕隙辣绑宠嘿兑霉挫稽辐乞纱裙嘻哇绣杖塘衍轴攀膊譬斌祈踢肆坎轿棚泣屡躁邱凰溢椎砸趟帘帆栖窜丸斩堤塌贩厢掀喀乖谜捏阎滨虏匙芦苹卸沼钥株祷剖熙哗劈怯棠胳桩瑰娱娶沫嗓蹲焚淘嫩韵衬匈钧竖峻豹捞菊鄙魄兜哄颖镑屑蚁壶怡渗秃迦旱哟咸焉谴宛稻铸锻伽詹毙恍贬烛骇芯汁桓坊驴朽靖佣汝碌迄冀荆崔雁绅珊榜诵傍彦醇笛禽勿娟瞄幢寇睹贿踩霆呜拱妃蔑谕缚诡篷淹腕煮倩卒勘馨逗甸贱炒灿敞蜡囚栗辜垫妒魁谣寞蜀甩涯枕丐泳奎泌逾叮黛燥掷藉枢憎鲸弘倚侮藩拂鹤蚀浆芙垃烤晒霜剿蕴圾绸屿氢驼妆捆铅逛淑榴丙痒钞蹄犬躬昼藻蛛褐颊奠募耽蹈陋侣魅岚侄虐堕陛莹荫狡阀绞膏垮茎缅喇绒搅凳梭丫姬诏钮棺耿缔懈嫉灶匀嗣鸽澡凿纬沸畴刃遏烁嗅叭熬瞥骸奢拙栋毯桐砂莽泻坪梳杉晤稚蔬蝇捣顷麽尴镖诧尬硫嚼羡沦沪旷彬芽狸冥碳咧惕暑咯萝汹腥窥俺潭崎麟捡拯厥澄萎哉涡滔暇溯鳞酿茵愕瞅暮衙诫斧兮焕棕佑嘶妓喧蓉删樱伺嗡娥梢坝蚕敷澜杏绥冶庇挠搂倏聂婉噪稼鳍菱盏匿吱寝揽髓秉哺矢啪帜邵嗽挟缸揉腻驯缆晌瘫贮觅朦僻隋蔓咋嵌虔畔琐碟涩胧嘟蹦冢浏裔襟叨诀旭虾簿啤擒枣嘎苑牟呕骆凸熄兀喔裳凹赎屯膛浇灼裘砰棘橡碱聋姥瑜毋娅沮萌俏黯撇粟粪尹苟癫蚂禹廖俭帖煎缕窦簇棱叩呐瑶墅莺烫蛙歹伶葱哮眩坤廓讳啼乍瓣矫跋枉梗厕琢讥釉窟敛轼庐胚呻绰扼懿炯竿慷虞锤栓桨蚊磅孽惭戳禀鄂馈垣溅咚钙礁彰豁眯磷雯墟迂瞻颅琉悼蝴拣渺眷悯汰慑婶斐嘘镶炕宦趴绷窘襄珀嚣拚酌浊毓撼嗜扛峭磕翘槽淌栅颓熏瑛颐忖';

/** A language's 30k words, the most frequent first (index = Zipf rank). */
function vocabulary(lang: LangSpec, rnd: () => number, han: string[]): string[] {
  const words: string[] = [];
  const seen = new Set<string>();
  const add = (w: string) => {
    if (w && !seen.has(w)) {
      seen.add(w);
      words.push(w);
    }
  };
  for (const w of lang.common?.split(' ') ?? []) add(w);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  // Rarer words are longer, as in real vocabularies.
  const size = () => 1 + Math.floor(rnd() * (1 + Math.min(3, words.length / 6000)));
  const latinVowels = lang.extra ? [...LATIN_VOWELS, ...lang.extra] : LATIN_VOWELS;
  const cyrCons = lang.extra ? [...CYR_CONS, ...lang.extra] : CYR_CONS;
  const arabic = lang.extra ? [...ARABIC, ...lang.extra] : ARABIC;
  const hanZipf = zipfSampler(han.length, 1.0);
  const hanChar = () => han[hanZipf(rnd())]!;
  while (words.length < 30000) {
    let w = '';
    const k = size();
    switch (lang.script) {
      case 'latin':
        for (let s = 0; s < k; s++) w += pick(LATIN_ONSETS) + pick(latinVowels) + pick(LATIN_CODAS);
        break;
      case 'cyrillic':
        for (let s = 0; s < k + 1; s++) w += pick(cyrCons) + pick(CYR_VOW);
        break;
      case 'arabic':
        for (let s = 0; s < k + 2; s++) w += pick(arabic);
        break;
      case 'hangul':
        // Blocks without a final consonant are the common ones.
        for (let s = 0; s < k + 1; s++) w += String.fromCharCode(0xac00 + Math.floor(rnd() * 19) * 588 + Math.floor(rnd() * 21) * 28 + (rnd() < 0.3 ? 4 : 0));
        break;
      case 'han':
        for (let s = 0; s < Math.min(3, k); s++) w += hanChar();
        break;
      case 'japanese':
        if (rnd() < 0.25) for (let s = 0; s < k + 2; s++) w += pick(KATAKANA);
        else {
          for (let s = 0; s < Math.min(2, k); s++) w += hanChar();
          for (let s = 0; s < 1 + Math.floor(rnd() * 3); s++) w += pick(HIRAGANA);
        }
        break;
      case 'thai':
        for (let s = 0; s < k; s++) w += (rnd() < 0.3 ? pick(THAI_LEAD) : '') + pick(THAI_CONS) + (rnd() < 0.6 ? pick(THAI_VOW) : '') + (rnd() < 0.3 ? pick(THAI_TONE) : '') + (rnd() < 0.4 ? pick(THAI_CONS) : '');
        break;
    }
    add(w);
  }
  return words;
}

export interface RealisticOptions {
  seed?: number;
}

interface Message {
  content: string;
  country: string | null;
  hashed_ip: string | null;
  header: { 'accept-language': string; 'user-agent': string } | null;
  language: string;
  redacted: boolean;
  role: 'user' | 'assistant';
  state: string | null;
  timestamp: string | null;
  toxic: boolean;
  turn_identifier: number;
}

/**
 * The rows of an n-conversation corpus, in order, one WildChat-1M record (as a JSON line) at
 * a time. Everything is drawn from one seeded generator; what a row depends on beyond its
 * own draws is bounded (the last 2,048 first turns, for re-asks).
 */
export function* realisticRows(n: number, opts: RealisticOptions = {}): Generator<string> {
  const rnd = uniformLong(opts.seed ?? 14);
  const han = hanPool(HAN_SEED);
  const vocabs = LANGS.map((l) => vocabulary(l, rnd, han));
  // Zipf exponent 1.05 over each 30k vocabulary.
  const wordRank = zipfSampler(30000, 1.05);
  const langCdf = new Float64Array(LANGS.length);
  let acc = 0;
  for (const [k, l] of LANGS.entries()) langCdf[k] = acc += l.share;
  const drawLang = () => {
    const u = rnd() * acc;
    let k = 0;
    while (k < LANGS.length - 1 && langCdf[k]! <= u) k++;
    return k;
  };
  // Users: Zipf(0.7) over 0.23 n people, which gives ~200k distinct users per million
  // conversations and ~7k conversations for the busiest (worked out for WildChat's figures).
  const population = Math.max(10, Math.round(0.23 * n));
  const userRank = zipfSampler(population, 0.7);
  // A user's home language, country and browser are a pure function of the user.
  const userOf = (u: number) => {
    const r = uniform(0x9e3779b9 ^ (u * 2654435761));
    const r1 = r();
    let k = 0;
    while (k < LANGS.length - 1 && langCdf[k]! <= r1 * acc) k++;
    const lang = LANGS[k]!;
    const total = lang.countries.reduce((a, c) => a + c[1], 0);
    let x = r() * total;
    let country = lang.countries[0]![0];
    for (const [c, w] of lang.countries) {
      if ((x -= w) < 0) {
        country = c;
        break;
      }
    }
    const states = STATES[country];
    return {
      lang: k,
      country,
      state: states && r() < 0.9 ? states[Math.floor(r() * states.length)]! : null,
      ip: createHash('sha256').update(`user-${u}`).digest('hex'),
      header: { 'accept-language': lang.acceptLanguage, 'user-agent': USER_AGENTS[Math.floor(r() * USER_AGENTS.length)]! },
    };
  };
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const logNormal = (median: number, sigma: number) => median * Math.exp(sigma * gauss());
  const words = (k: number) => vocabs[k]!;
  const english = vocabs[0]!;
  const word = (k: number) => {
    // Non-English text mixes in English words (names, terms) as real logs do.
    if (k !== 0 && rnd() < 0.03) return english[wordRank(rnd())]!;
    if (rnd() < 0.02) return String(Math.floor(rnd() * (rnd() < 0.5 ? 100 : 10000)));
    return words(k)[wordRank(rnd())]!;
  };
  // Words go into an array that is joined once: string += per word was 3x slower here.
  const prose = (k: number, target: number, question: boolean): string => {
    const spec = LANGS[k]!;
    const unspaced = spec.script === 'han' || spec.script === 'japanese' || spec.script === 'thai';
    const stop = unspaced && spec.script !== 'thai' ? '。' : '.';
    const ask = unspaced && spec.script !== 'thai' ? '？' : '?';
    const parts: string[] = [];
    let len = 0;
    while (len < target) {
      const n = 4 + Math.floor(rnd() * 16);
      for (let w = 0; w < n && len < target + 8; w++) {
        let x = word(k);
        if (unspaced) {
          // Chinese and Japanese have no spaces (an English word gets them around it); Thai
          // puts a space between phrases only.
          if (x.charCodeAt(0) < 128) x = ` ${x} `;
          else if (w < n - 1 && rnd() < 0.12) x += spec.script === 'thai' ? ' ' : CJK_PUNCT[Math.floor(rnd() * 2)]!;
        } else {
          if (w === 0) x = x.charAt(0).toUpperCase() + x.slice(1);
          else if (rnd() < 0.08) x += ',';
          if (w < n - 1) x += ' ';
        }
        parts.push(x);
        len += x.length;
      }
      const end = (question && rnd() < 0.6 ? ask : stop) + (unspaced ? (spec.script === 'thai' ? ' ' : '') : rnd() < 0.15 ? '\n' : ' ');
      parts.push(end);
      len += end.length;
    }
    return parts.join('').trimEnd();
  };
  const ident = () => {
    const a = english[wordRank(rnd())]!.replace(/[^a-z]/g, '') || 'x';
    const b = english[wordRank(rnd())]!.replace(/[^a-z]/g, '') || 'y';
    return rnd() < 0.5 ? `${a}_${b}` : a + b.charAt(0).toUpperCase() + b.slice(1);
  };
  const code = (target: number): string => {
    const lines: string[] = [];
    let len = 0;
    let depth = 0;
    const py = rnd() < 0.5;
    while (len < target) {
      const pad = py ? '    '.repeat(depth) : '  '.repeat(depth);
      const r = rnd();
      let line: string;
      if (r < 0.15) {
        line = py ? `${pad}def ${ident()}(${ident()}, ${ident()}):` : `${pad}function ${ident()}(${ident()}, ${ident()}) {`;
        depth = Math.min(depth + 1, 4);
      } else if (r < 0.25) {
        line = py ? `${pad}if ${ident()} > ${Math.floor(rnd() * 100)}:` : `${pad}if (${ident()} > ${Math.floor(rnd() * 100)}) {`;
        depth = Math.min(depth + 1, 4);
      } else if (r < 0.35 && depth > 0) {
        depth--;
        line = py ? `${pad}return ${ident()}` : `${pad}return ${ident()};\n${'  '.repeat(depth)}}`;
      } else if (r < 0.45) {
        line = py ? `${pad}# ${prose(0, 30, false)}` : `${pad}// ${prose(0, 30, false)}`;
      } else {
        line = py ? `${pad}${ident()} = ${ident()}.${ident()}(${ident()}, "${english[wordRank(rnd())]}")` : `${pad}const ${ident()} = ${ident()}.${ident()}(${ident()}, '${english[wordRank(rnd())]}');`;
      }
      lines.push(line);
      len += line.length + 1;
    }
    while (!py && depth-- > 0) lines.push(`${'  '.repeat(depth)}}`);
    return lines.join('\n');
  };
  const assistantText = (k: number, target: number, coding: boolean): string => {
    const parts: string[] = [];
    let len = 0;
    while (len < target) {
      const left = target - len;
      let p: string;
      if (coding && rnd() < 0.35 && left > 200) p = '```' + (rnd() < 0.5 ? 'python' : 'javascript') + '\n' + code(Math.min(left, 300 + rnd() * 1200)) + '\n```';
      else if (rnd() < 0.2 && left > 150) p = Array.from({ length: 2 + Math.floor(rnd() * 4) }, (_, j) => `${j + 1}. ${prose(k, 40 + rnd() * 120, false)}`).join('\n');
      else p = prose(k, Math.min(left, 120 + rnd() * 400), false);
      parts.push(p);
      len += p.length + 2;
    }
    return parts.join('\n\n');
  };
  // Templated prompts: ten shared frames with two slots, as WildChat's prompt-generator templates.
  const templates = Array.from({ length: 10 }, () => [prose(0, 200, false), prose(0, 150, false), prose(0, 100, true)]);
  const recentFirst: string[] = [];
  const start = Date.UTC(2023, 3, 9) / 1000;
  const span = 385 * 86400;
  let tid = 100_000;
  for (let i = 0; i < n; i++) {
    const user = userOf(userRank(rnd()));
    const k = rnd() < 0.85 ? user.lang : drawLang();
    const lang = LANGS[k]!;
    const coding = rnd() < 0.15;
    // 66% single-turn; the rest 2 + geometric, mean 4.5, cut at 30: 2.2 user turns on average.
    const turns = rnd() < 0.66 ? 1 : Math.min(30, 2 + Math.floor(Math.log(1 - rnd()) / Math.log(1 - 0.283)));
    const toxic = rnd() < 0.03;
    const redacted = rnd() < 0.01;
    const toxicTurn = Math.floor(rnd() * turns);
    let t = start + Math.floor((i / n) * span + rnd() * 600);
    const msgs: Message[] = [];
    for (let j = 0; j < turns; j++) {
      let content: string;
      let label = lang.name;
      const r = rnd();
      if (r < 0.005) content = '';
      else if (r < 0.016) {
        // A paste of 5-20k characters, 40% of them code.
        const size = 5000 * Math.pow(4, rnd());
        const isCode = rnd() < 0.4;
        const ask = prose(k, 20 + rnd() * 80, true);
        content = isCode ? `${ask}\n${code(size)}` : `${ask}\n\n${prose(k, size, false)}`;
        if (isCode) label = 'English';
      } else if (j === 0) {
        const d = rnd();
        if (d < 0.03 && recentFirst.length) content = recentFirst[Math.floor(rnd() * recentFirst.length)]!;
        else if (d < 0.04 && recentFirst.length) {
          const w = recentFirst[Math.floor(rnd() * recentFirst.length)]!.split(' ');
          w[Math.floor(rnd() * w.length)] = word(k);
          content = w.join(' ');
        } else if (d < 0.055) {
          const tpl = templates[Math.floor(rnd() * templates.length)]!;
          content = `${tpl[0]} ${prose(k, 10 + rnd() * 60, false)} ${tpl[1]} ${prose(k, 10 + rnd() * 40, false)} ${tpl[2]}`;
        } else if (d < 0.075 && GREETINGS[lang.name]) content = GREETINGS[lang.name]![Math.floor(rnd() * GREETINGS[lang.name]!.length)]!;
        else content = coding && rnd() < 0.3 ? `${prose(k, 60, true)}\n${code(logNormal(400, 0.8))}` : prose(k, Math.min(4000, Math.max(2, logNormal(150, 1.2))), rnd() < 0.4);
        if (content && recentFirst.length < 2048) recentFirst.push(content);
        else if (content) recentFirst[Math.floor(rnd() * 2048)] = content;
      } else if (rnd() < 0.06 && CONTINUES[lang.name]) content = CONTINUES[lang.name]![Math.floor(rnd() * CONTINUES[lang.name]!.length)]!;
      else content = prose(k, Math.min(4000, Math.max(2, logNormal(110, 1.2))), rnd() < 0.4);
      if (content.length < 25 && rnd() < 0.25) label = MISLABELS[Math.floor(rnd() * MISLABELS.length)]!;
      msgs.push({
        content, country: user.country, hashed_ip: user.ip, header: user.header, language: label, redacted: redacted && j === 0, role: 'user',
        state: user.state, timestamp: null, toxic: toxic && j === toxicTurn, turn_identifier: tid,
      });
      t += 5 + Math.floor(rnd() * 90);
      msgs.push({
        content: assistantText(k, Math.min(12000, Math.max(1, logNormal(1110, 0.69))), coding), country: null, hashed_ip: null, header: null,
        language: lang.name, redacted: false, role: 'assistant', state: null, timestamp: new Date(t * 1000).toISOString(), toxic: false, turn_identifier: tid,
      });
      tid += 1 + Math.floor(rnd() * 3);
    }
    const when = i / n;
    const gpt4 = rnd() < 0.25;
    const model = when < 0.45 ? (gpt4 ? 'gpt-4-0314' : 'gpt-3.5-turbo-0301') : when < 0.75 ? (gpt4 ? 'gpt-4-1106-preview' : 'gpt-3.5-turbo-0613') : gpt4 ? 'gpt-4-0125-preview' : 'gpt-3.5-turbo-0125';
    yield JSON.stringify({
      conversation_hash: createHash('md5').update(`conversation-${i}-${msgs[0]!.content}`).digest('hex'),
      model,
      timestamp: new Date(t * 1000).toISOString(),
      conversation: msgs,
      turn: turns,
      language: lang.name,
      toxic,
      redacted,
      state: user.state,
      country: user.country,
      hashed_ip: user.ip,
      header: user.header,
    });
  }
}

const HEADER_T = `STRUCT("accept-language" VARCHAR, "user-agent" VARCHAR)`;
const JSON_COLUMNS = `{conversation_hash: 'VARCHAR', model: 'VARCHAR', timestamp: 'TIMESTAMPTZ',
  conversation: 'STRUCT(content VARCHAR, country VARCHAR, hashed_ip VARCHAR, header ${HEADER_T}, language VARCHAR, redacted BOOLEAN, role VARCHAR, state VARCHAR, timestamp TIMESTAMPTZ, toxic BOOLEAN, turn_identifier BIGINT)[]',
  turn: 'BIGINT', language: 'VARCHAR', toxic: 'BOOLEAN', redacted: 'BOOLEAN', state: 'VARCHAR', country: 'VARCHAR', hashed_ip: 'VARCHAR', header: '${HEADER_T}'}`;
const MOD_CATEGORIES = ['harassment', 'harassment/threatening', 'harassment_threatening', 'hate', 'hate/threatening', 'hate_threatening', 'self-harm', 'self-harm/instructions', 'self-harm/intent', 'self_harm', 'self_harm_instructions', 'self_harm_intent', 'sexual', 'sexual/minors', 'sexual_minors', 'violence', 'violence/graphic', 'violence_graphic'];
const DETOXIFY = ['identity_attack', 'insult', 'obscene', 'severe_toxicity', 'sexual_explicit', 'threat', 'toxicity'];

/** WildChat's per-message moderation lists, scored from a hash of the message (high where it is toxic). */
function moderationSql(): { openai: string; detoxify: string } {
  const score = (j: number, hot: boolean) => `CASE WHEN m.toxic${hot ? '' : ' AND false'} THEN 0.9 ELSE (hash(m.turn_identifier, m.role, ${j}) % 1000000)::DOUBLE / 1e9 END`;
  const cats = MOD_CATEGORIES.map((c, j) => `'${c}': m.toxic AND ${j === 0}`).join(', ');
  const scores = MOD_CATEGORIES.map((c, j) => `'${c}': ${score(j, j === 0)}`).join(', ');
  const detox = DETOXIFY.map((c, j) => `'${c}': ${score(100 + j, c === 'toxicity')}`).join(', ');
  return {
    openai: `list_transform(conversation, m -> {'categories': {${cats}}, 'category_scores': {${scores}}, 'flagged': m.toxic})`,
    detoxify: `list_transform(conversation, m -> {${detox}})`,
  };
}

export interface CorpusFiles {
  dir: string;
  /** The shard files, sorted. */
  files: string[];
  glob: string;
  cached: boolean;
}

/**
 * Write the n-conversation corpus as WildChat-1M shards (data/train-000NN-of-000MM.parquet,
 * zstd) under dir, cached: a directory with its completion file is used as it is.
 */
export async function writeRealisticCorpus(dir: string, n: number, opts: RealisticOptions = {}): Promise<CorpusFiles> {
  const data = join(dir, 'data');
  const list = async () => (await readdir(data)).filter((f) => f.endsWith('.parquet')).sort().map((f) => join(data, f));
  const glob = join(data, '*.parquet');
  if (await stat(join(dir, COMPLETE_FILE)).then(() => true, () => false)) return { dir, files: await list(), glob, cached: true };
  await rm(dir, { recursive: true, force: true });
  await mkdir(data, { recursive: true });
  const shards = Math.max(1, Math.ceil(n / ROWS_PER_SHARD));
  const mod = moderationSql();
  const db = await Db.open({});
  try {
    const rows = realisticRows(n, opts);
    for (let s = 0; s < shards; s++) {
      const json = join(dir, `shard-${s}.ndjson`);
      const out = createWriteStream(json);
      const count = Math.min(ROWS_PER_SHARD, n - s * ROWS_PER_SHARD);
      let buf: string[] = [];
      for (let i = 0; i < count; i++) {
        buf.push(rows.next().value as string);
        if (buf.length === 2000 || i === count - 1) {
          if (!out.write(buf.join('\n') + '\n')) await once(out, 'drain');
          buf = [];
        }
      }
      out.end();
      await once(out, 'finish');
      const name = join(data, `train-${String(s).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.parquet`);
      await db.run(
        `COPY (SELECT conversation_hash, model, timestamp, conversation, turn, language, ${mod.openai} AS openai_moderation, ${mod.detoxify} AS detoxify_moderation,
                      toxic, redacted, state, country, hashed_ip, header
               FROM read_json(${sqlString(json)}, format = 'newline_delimited', maximum_object_size = 268435456, columns = ${JSON_COLUMNS}))
         TO ${sqlString(`${name}.tmp`)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 10000)`,
      );
      await rename(`${name}.tmp`, name);
      await rm(json);
    }
  } finally {
    db.close();
  }
  await writeFile(join(dir, COMPLETE_FILE), `${n} conversations, generator version ${REALISTIC_CORPUS_VERSION}\n`);
  return { dir, files: await list(), glob, cached: false };
}

export interface CorpusStats {
  conversations: number;
  textGB: number;
  userTurnsMean: number;
  singleTurnShare: number;
  maxUserTurns: number;
  userMedian: number;
  firstUserMedian: number;
  emptyShare: number;
  pasteShare: number;
  pasteCodeShare: number;
  assistantMedian: number;
  assistantP99: number;
  languages: number;
  languageShares: Record<string, number>;
  /** Spaces per 100 characters in Chinese, Japanese and Thai messages over 20 characters, and in English ones. */
  unspacedSpaces: number;
  englishSpaces: number;
  users: number;
  maxPerUser: number;
  countries: number;
  toxicShare: number;
  redactedShare: number;
  /** Conversations whose user turns (lower-cased) no other conversation has: a generator whose random stream wraps around repeats its rows and shows here. */
  distinctUserSides: number;
}

/** A WildChat-shaped corpus's statistics, computed by DuckDB (the same SQL for the generated and the real rows). */
export async function corpusStats(db: Db, files: string | string[]): Promise<CorpusStats> {
  const from = `read_parquet(${Array.isArray(files) ? `[${files.map(sqlString).join(', ')}]` : sqlString(files)})`;
  await db.run(
    `CREATE OR REPLACE TEMP TABLE stat_msgs AS
     SELECT language, m.role, length(m.content) AS chars, pos = 1 AS first,
            length(m.content) >= 5000 AND regexp_matches(m.content, '[;{}:]\\s*\\n\\s') AS code,
            language IN ('Chinese', 'Japanese', 'Thai') AND length(m.content) > 20 AS unspaced_lang,
            length(m.content) - length(replace(m.content, ' ', '')) AS spaces
     FROM (SELECT language, unnest(conversation) AS m, generate_subscripts(conversation, 1) AS pos FROM ${from})`,
  );
  const m = await db.one<Record<string, unknown>>(
    `SELECT sum(chars) / 1e9 AS gb,
            quantile_disc(chars, 0.5) FILTER (WHERE role = 'user') AS user_median,
            quantile_disc(chars, 0.5) FILTER (WHERE role = 'user' AND first) AS first_median,
            avg((chars = 0)::INT) FILTER (WHERE role = 'user') AS empty,
            avg((chars BETWEEN 5000 AND 20000)::INT) FILTER (WHERE role = 'user') AS paste,
            avg(code::INT) FILTER (WHERE role = 'user' AND chars BETWEEN 5000 AND 20000) AS paste_code,
            quantile_disc(chars, 0.5) FILTER (WHERE role = 'assistant') AS asst_median,
            quantile_disc(chars, 0.99) FILTER (WHERE role = 'assistant') AS asst_p99,
            coalesce(100 * sum(spaces) FILTER (WHERE unspaced_lang) / sum(chars) FILTER (WHERE unspaced_lang), 0) AS spaced,
            100 * sum(spaces) FILTER (WHERE language = 'English') / sum(chars) FILTER (WHERE language = 'English') AS en_spaced
     FROM stat_msgs`,
  );
  await db.run('DROP TABLE stat_msgs');
  const c = await db.one<Record<string, unknown>>(
    `SELECT count(*) AS n, avg(u) AS turns, avg((u = 1)::INT) AS single, max(u) AS max_turns, count(DISTINCT language) AS langs,
            count(DISTINCT hashed_ip || '|' || coalesce(country, '')) AS users, count(DISTINCT country) AS countries,
            avg(toxic::INT) AS toxic, avg(redacted::INT) AS redacted,
            count(DISTINCT md5(lower(array_to_string(list_transform(list_filter(conversation, x -> x.role = 'user'), x -> x.content), chr(31))))) / count(*) AS distinct_sides
     FROM (SELECT *, len(list_filter(conversation, x -> x.role = 'user')) AS u FROM ${from})`,
  );
  const top = await db.one<{ n: unknown }>(`SELECT max(k) AS n FROM (SELECT count(*) AS k FROM ${from} GROUP BY hashed_ip, country)`);
  const langs = await db.all<{ language: string; share: number }>(`SELECT language, count(*) / sum(count(*)) OVER () AS share FROM ${from} GROUP BY 1 ORDER BY 2 DESC, 1`);
  const num = (v: unknown) => (v === null || v === undefined ? NaN : toNumber(v));
  return {
    conversations: num(c['n']), textGB: num(m['gb']), userTurnsMean: num(c['turns']), singleTurnShare: num(c['single']), maxUserTurns: num(c['max_turns']),
    userMedian: num(m['user_median']), firstUserMedian: num(m['first_median']), emptyShare: num(m['empty']), pasteShare: num(m['paste']),
    pasteCodeShare: num(m['paste_code']), assistantMedian: num(m['asst_median']), assistantP99: num(m['asst_p99']), languages: num(c['langs']),
    languageShares: Object.fromEntries(langs.map((l) => [l.language, Number(l.share)])), unspacedSpaces: num(m['spaced']), englishSpaces: num(m['en_spaced']),
    users: num(c['users']), maxPerUser: num(top.n), countries: num(c['countries']), toxicShare: num(c['toxic']), redactedShare: num(c['redacted']),
    distinctUserSides: num(c['distinct_sides']),
  };
}

/** What issue 14 measured on its realistic corpus, per million conversations where it scales. */
export const REALISTIC_TARGETS = {
  userTurnsMean: 2.2, singleTurnShare: 0.66, maxUserTurns: 30, userMedian: 141, firstUserMedian: 175, emptyShare: 0.005, pasteShare: 0.011,
  pasteCodeShare: 0.4, assistantMedian: 1145, assistantP99: 5700, languages: 19, english: 0.67, chinese: 0.12, russian: 0.09,
  usersPerMillion: 200_000, maxPerUserPerMillion: 7000, countries: 60,
};

/** The generated corpus's statistics beside the real rows' and the targets, one line each. */
export function formatStats(gen: CorpusStats, real: CorpusStats, n: number): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');
  const t = REALISTIC_TARGETS;
  const scale = n / 1e6;
  const share = (s: CorpusStats, l: string) => pct(s.languageShares[l] ?? 0);
  const rows: [string, string, string, string][] = [
    ['conversations', int(gen.conversations), int(real.conversations), ''],
    ['message text', `${gen.textGB.toFixed(2)} GB`, `${(real.textGB * 1e3).toFixed(2)} MB`, `${(3.85 * scale).toFixed(2)} GB`],
    ['user turns per conversation', gen.userTurnsMean.toFixed(2), real.userTurnsMean.toFixed(2), String(t.userTurnsMean)],
    ['single-turn conversations', pct(gen.singleTurnShare), pct(real.singleTurnShare), pct(t.singleTurnShare)],
    ['most user turns', int(gen.maxUserTurns), int(real.maxUserTurns), `~${t.maxUserTurns}`],
    ['user message median chars', int(gen.userMedian), int(real.userMedian), String(t.userMedian)],
    ['first user turn median chars', int(gen.firstUserMedian), int(real.firstUserMedian), String(t.firstUserMedian)],
    ['empty user messages', pct(gen.emptyShare), pct(real.emptyShare), pct(t.emptyShare)],
    ['user pastes of 5-20k chars', pct(gen.pasteShare), pct(real.pasteShare), pct(t.pasteShare)],
    ['pastes that look like code', pct(gen.pasteCodeShare), Number.isNaN(real.pasteCodeShare) ? '-' : pct(real.pasteCodeShare), pct(t.pasteCodeShare)],
    ['assistant reply median chars', int(gen.assistantMedian), int(real.assistantMedian), int(t.assistantMedian)],
    ['assistant reply p99 chars', int(gen.assistantP99), int(real.assistantP99), int(t.assistantP99)],
    ['languages', int(gen.languages), int(real.languages), String(t.languages)],
    ['English / Chinese / Russian', `${share(gen, 'English')} / ${share(gen, 'Chinese')} / ${share(gen, 'Russian')}`, `${share(real, 'English')} / ${share(real, 'Chinese')} / ${share(real, 'Russian')}`, '67% / 12% / 9%'],
    ['spaces per 100 chars zh,ja,th/en', `${gen.unspacedSpaces.toFixed(1)} / ${gen.englishSpaces.toFixed(1)}`, `${real.unspacedSpaces.toFixed(1)} / ${real.englishSpaces.toFixed(1)}`, ''],
    ['distinct users', int(gen.users), int(real.users), int(t.usersPerMillion * scale)],
    // Not linear in n: a Zipf's head share shrinks as the population grows.
    ['most conversations of one user', int(gen.maxPerUser), int(real.maxPerUser), `~${int(t.maxPerUserPerMillion)} at 1M`],
    ['countries', int(gen.countries), int(real.countries), String(t.countries)],
    ['toxic / redacted', `${pct(gen.toxicShare)} / ${pct(gen.redactedShare)}`, `${pct(real.toxicShare)} / ${pct(real.redactedShare)}`, ''],
    ['distinct user sides', pct(gen.distinctUserSides), pct(real.distinctUserSides), ''],
  ];
  const w = [30, 24, 22, 16];
  const line = (r: string[]) => r.map((x, k) => x.padEnd(w[k]!)).join(' ').trimEnd();
  return [line(['statistic', `generated (${int(n)})`, 'real rows (50)', 'target']), ...rows.map(line)].join('\n') + '\n';
}
